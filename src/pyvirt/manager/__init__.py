"""pyvirt-manager: virt-manager's job in a browser, over the client API (pyvirt.open).

The server (aiohttp) holds one client connection per URI, turns the daemon's
lifecycle events and its own CPU/memory samples into server-sent events, and
bridges each domain's console stream to a websocket for the page's xterm.js.
"""
