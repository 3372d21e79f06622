"""The connection layer under the HTTP server: who may connect, how long a request head may take, and
plain HTTP and TLS on one port (`Listener` is the protocol uvicorn runs for every accepted connection)."""
