"""client-docker: a container CLI is here, and it has credentials for containers.HOSTNAME.

Looks for `docker`, else `podman`, and asks for its version (`--version`: the client alone,
no daemon needed). Then the credentials each reads: docker's `config.json` (`$DOCKER_CONFIG`
or `~/.docker`): an `auths` entry for the registry, a `credHelpers` entry, or a
`credsStore` that may hold it; podman's `auth.json` (`$REGISTRY_AUTH_FILE`,
`$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`). Nothing is
logged in: the result gives the `docker login ... --password-stdin` line to use, which reads
the token from standard input so that it never lands in the shell history or `ps`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ghes_setup.checks import Outcome, check
from ghes_setup.client.check_token import token_login
from ghes_setup.client.context import ClientContext

_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _keys(doc: dict[str, object], section: str) -> set[str]:
    value = doc.get(section)
    if not isinstance(value, dict):
        return set()
    return {str(k).removeprefix("https://").removeprefix("http://").rstrip("/") for k in value}


def credential_sources(ctx: ClientContext, cli: str) -> tuple[list[str], list[str]]:
    """(where credentials for the registry were found, files looked at)."""
    env = ctx.environ
    host = ctx.registry_authority
    found: list[str] = []
    looked: list[str] = []
    docker_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else ctx.home / ".docker"
    files = [docker_dir / "config.json"]
    if cli == "podman":
        if env.get("REGISTRY_AUTH_FILE"):
            files.insert(0, Path(env["REGISTRY_AUTH_FILE"]))
        if env.get("XDG_RUNTIME_DIR"):
            files.insert(0, Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
        files.insert(0, ctx.home / ".config" / "containers" / "auth.json")
    for path in files:
        looked.append(str(path))
        doc = _read_json(path)
        if doc is None:
            continue
        if host in _keys(doc, "auths"):
            found.append(f"auths entry in {path}")
        if host in _keys(doc, "credHelpers"):
            helpers = doc.get("credHelpers")
            helper = helpers.get(host) if isinstance(helpers, dict) else None
            found.append(f"credential helper docker-credential-{helper} ({path})")
        store = doc.get("credsStore")
        if isinstance(store, str) and store and not found:
            found.append(f"credentials store docker-credential-{store} ({path}), may hold it")
    return found, looked


@check("client-docker", area="client")
def client_docker(ctx: ClientContext) -> Outcome:
    """docker or podman is here, with credentials for containers.HOSTNAME."""
    cli = next((name for name in ("docker", "podman") if ctx.which(name)), None)
    user = token_login(ctx) or ctx.user or "USER"
    login = f"{cli or 'docker'} login {ctx.registry_authority} -u {user} --password-stdin"
    feed = ""
    if ctx.token is not None and ctx.token.source == "GHES_SETUP_TOKEN":
        feed = "printenv GHES_SETUP_TOKEN | "
    elif ctx.token is not None and ctx.token.source.startswith("file "):
        feed = f"cat {ctx.token.source.removeprefix('file ')} | "
    details: dict[str, object] = {"login_command": login}
    if cli is None:
        return Outcome.warned(
            "neither docker nor podman is installed here (skopeo, buildah and the Actions "
            "runner's container jobs need the same CA, DNS and token)",
            "install docker or podman, then log in: " + feed + login,
            details=details,
        )
    path = ctx.which(cli) or cli
    code, text = ctx.run([path, "--version"])
    match = _VERSION.search(text) if code == 0 else None
    version = match.group(1) if match else None
    details.update({"cli": cli, "path": path, "version": version or text.strip()[:200]})
    found, looked = credential_sources(ctx, cli)
    details.update({"credentials": found, "config_files": looked})
    label = f"{cli} {version}" if version else f"{cli} (version unknown: {text.strip()[:80]})"
    if not found:
        return Outcome.warned(
            f"{label} at {path}, but no credentials for {ctx.registry_authority} "
            f"(looked in {', '.join(looked)})",
            f"log in once (the token on standard input, never as an argument): {feed}{login}",
            details=details,
        )
    return Outcome.passed(
        f"{label} at {path}; credentials for {ctx.registry_authority}: {found[0]}",
        details=details,
    )
