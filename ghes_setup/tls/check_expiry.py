"""`tls-expiry`: days left before the chain stops working.

The earliest notAfter of the bundle counts, not only the leaf's: an intermediate that expires
first breaks the chain just the same, and leaf-only checks miss it (heartbeatsjp/check-tls-cert
issue 46, nagios-plugins/nagios-plugins issue 627). Warn below `warn_days` (default 30), fail
below `crit_days` (default 7), when expired, or when a certificate is not valid yet (wrong clock
on the CA or here). `metrics.days_left` with Nagios thresholds `30:` / `7:` feeds monitoring.

Only the certificates clients use count (`trust.used_path`): the leaf and its intermediates up
to where a trusted root takes over. A certificate after that (a cross-signed copy of the root,
the "long chain" some CAs ship) is never used: out of date, it is a warning to remove it.
"""

from __future__ import annotations

from ghes_setup.checks import Outcome, check
from ghes_setup.tls.context import TlsMaterialContext, days_left
from ghes_setup.tls.material import describe, is_self_issued
from ghes_setup.tls.trust import used_path


@check("tls-expiry", area="tls", requires=("tls-pem",))
def tls_expiry(ctx: TlsMaterialContext) -> Outcome:
    """No certificate of the bundle expires within the warning window."""
    now, leaf = ctx.now, ctx.leaf
    path, rest = used_path(leaf, [c for c in ctx.certs if c is not leaf], ctx.trust)
    certs = [leaf, *(c for c in path[1:] if not is_self_issued(c))]
    unused = [
        c
        for c in rest
        if not is_self_issued(c) and not c.not_valid_before_utc <= now < c.not_valid_after_utc
    ]
    rows = [
        {
            "certificate": describe(c),
            "not_before": c.not_valid_before_utc.isoformat(),
            "not_after": c.not_valid_after_utc.isoformat(),
            "days_left": days_left(c, now),
        }
        for c in certs
    ]
    earliest = min(certs, key=lambda c: c.not_valid_after_utc)
    left = days_left(earliest, now)
    which = "the leaf" if earliest is leaf else f"intermediate {describe(earliest)}"
    details: dict[str, object] = {"certificates": rows, "earliest": describe(earliest)}
    if unused:
        details["unused_out_of_date"] = [describe(c) for c in unused]
    kw = {"details": details, "metrics": {"days_left": left}, "thresholds": ctx.thresholds()}
    future = [c for c in certs if c.not_valid_before_utc > now]
    if future:
        first = future[0]
        return Outcome.failed(
            f"{describe(first)} is not valid until {first.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            remedy="check the clock of this machine and of the CA that issued it; wait or reissue",
            **kw,
        )
    date = f"{earliest.not_valid_after_utc:%Y-%m-%d}"
    renew = (
        "renew the certificate"
        if earliest is leaf
        else (f"get the current intermediate {describe(earliest)} from your CA (or a new chain)")
    )
    if earliest.not_valid_after_utc <= now:
        return Outcome.failed(
            f"{which} expired on {date} ({-left} days ago)", remedy=renew + " now", **kw
        )
    if left < ctx.crit_days:
        return Outcome.failed(
            f"{which} expires on {date}, in {left} days (critical below {ctx.crit_days})",
            remedy=renew + " now",
            **kw,
        )
    if left < ctx.warn_days:
        return Outcome.warned(
            f"{which} expires on {date}, in {left} days (warning below {ctx.warn_days})",
            remedy=renew + " soon",
            **kw,
        )
    summary = f"{left} days left ({which} expires first, on {date})"
    if earliest is not leaf and earliest.not_valid_after_utc < leaf.not_valid_after_utc:
        summary += "; the intermediate expires before the leaf"
    if unused:
        stale = unused[0]
        when = (
            f"is not valid before {stale.not_valid_before_utc:%Y-%m-%d}"
            if stale.not_valid_before_utc > now
            else f"expired on {stale.not_valid_after_utc:%Y-%m-%d}"
        )
        return Outcome.warned(
            f"{summary}; {describe(stale)} (issued by {stale.issuer.rfc4514_string()}) in the "
            f"bundle {when}, but clients do not use it: "
            "it is not on the path from the leaf to a trusted root",
            remedy=f"remove {describe(stale)} from the bundle (it only adds bytes to every "
            "handshake)",
            **kw,
        )
    return Outcome.passed(summary, **kw)
