"""The client side: can this machine (a workstation, a CI runner) use the Container registry?

`client check` (`service.run_client_check`) runs, with this machine's own resolver, trust
store, proxy environment, token and docker configuration:
- `check_dns`: client-dns, names resolve here, to the appliance (split-horizon named);
- `check_tls_trust`: client-tls-trust, the served chain verifies against the system store;
- `check_ca_paths`: client-ca-paths, a private CA is where docker, podman, npm... look;
- `check_proxy`: client-proxy, HTTPS_PROXY/NO_PROXY by Go's and curl's rules (`noproxy`);
- `check_token`: client-token, a classic PAT with the package scopes (never printed);
- `check_docker`: client-docker, docker/podman present, credentials, the login line;
and with `--smoke` the registry area's own `registry-smoke`.

A layer above the areas: it uses the dns, tls and registry areas' functions, and nothing
here imports dnspython, pyOpenSSL or httpx (import-linter).
"""
