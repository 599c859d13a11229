"""A Daphne server's WebSocket connections that read their options from their class.

Why. When a connection is made, autobahn copies each of its options (29) from
the factory onto the connection, and formats the whole list with `pprint` for a
debug log line whether debug logging is on or not. Under plain `daphne
config.asgi:application`, 2,000 distinct users joining one room, that was 11% of
the workers' GIL time (`--gil` py-spy: `pprint` 8.6%, the line's `click.style`
and `hltype` 2.7%), and 29 more entries in every socket's attribute dictionary.
Daphne sets the options once, before its first connection, so a class holding
the values every connection would have copied serves every later connection;
with nothing left to copy, there is nothing to format.

Per server, nothing patched process-wide: a consumer's first socket finds its
connection's factory (`realtime.fastsend.protocol_of`) and gives that factory
the settled class, once, under `daphne`, `manage.py runserver` and `manage.py
serve` alike. The connections already made keep theirs. Only Daphne's own
protocol class is settled, not a subclass someone put there.
tests/realtime/test_canaries.py fails when autobahn or Daphne changes the names
used here.
"""

import inspect

from daphne.ws_protocol import WebSocketProtocol


def settled_protocol(factory) -> type:
    """Daphne's WebSocket protocol class, with the factory's options on the class."""
    base = factory.protocol
    options = {}
    for name in base.CONFIG_ATTRS:
        value = getattr(factory, name)
        # A function on a class would be bound to each connection (one option
        # is a callback: perMessageCompressionAccept).
        options[name] = staticmethod(value) if inspect.isfunction(value) else value
    return type(base.__name__, (base,), {**options, "CONFIG_ATTRS": ()})


def settle_factory(protocol) -> bool:
    """Give the factory of `protocol` (a connection of Daphne's) the settled
    class for its next connections; return whether this call did."""
    factory = getattr(protocol, "factory", None)
    if factory is None or getattr(factory, "protocol", None) is not WebSocketProtocol:
        return False  # settled already, or not Daphne's own class
    factory.protocol = settled_protocol(factory)
    return True
