"""The HTTP endpoint.

    address     --web.listen-address
    pages       the WSGI app: landing page, /metrics, /-/healthy, /-/ready
    tls_names   the exporter-toolkit's TLS names and what Python's ssl calls them
    settings    the --web.config.file schema and its parsing
    tls         the server's SSL context; the client certificate's names
    basic_auth  checking basic auth against bcrypt hashes
    live        the web configuration in force, re-read when its files change
    guard       the middleware that applies it: basic auth, headers
    server      the threaded server, TLS, graceful stop

Each module imports only modules listed above it.
"""
