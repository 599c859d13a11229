import pytest

# The shared helpers in harness/ assert too: explain their failures as the tests' own.
# Here, so it runs before any conftest.py imports them.
pytest.register_assert_rewrite("harness")
