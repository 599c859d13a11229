from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .throttle import client_address, over_limit

TOO_MANY = "Too many attempts. Wait a few minutes and try again."


class ThrottledLoginView(LoginView):
    """Django's login, with attempts limited per client address and per username."""

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = str(request.POST.get("username", ""))[:150].lower()
        if over_limit("login", f"ip:{client_address(request)}", f"user:{username}"):
            form = self.get_form()
            return self.render_to_response(
                self.get_context_data(form=form, throttled=TOO_MANY), status=429
            )
        return super().post(request, *args, **kwargs)


@require_http_methods(["GET", "POST"])
def signup(request):
    """Create an account and log in with it."""
    if request.user.is_authenticated:
        return redirect("chat:room_list")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST":
        if over_limit("signup", f"ip:{client_address(request)}"):
            context = {"form": UserCreationForm(), "throttled": TOO_MANY}
            return render(request, "registration/signup.html", context, status=429)
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("chat:room_list")
    return render(request, "registration/signup.html", {"form": form})
