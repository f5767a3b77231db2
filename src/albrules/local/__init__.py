"""The embedded local AWS: moto, made to behave as AWS documents for ELBv2 listener rules.

``install()`` applies the project's fidelity fixes and fault injection to moto in this
process, and makes moto run the project's own Lambda functions in-process (``lambdas``); the
server (``albrules local up``) calls it before serving.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    """Patch moto in this process, once (a second call does nothing: the wrappers of one
    module would otherwise wrap another's again, and a throttled call would take two
    tokens). Import moto lazily: it is heavy."""
    global _installed
    if _installed:
        return
    _installed = True
    from . import speed

    speed.install()  # first: what moto and botocore would otherwise do again for each call
    from . import (
        elbv2,
        elbv2_listeners,
        events,
        faults,
        inbox,
        kms,
        lambdas,
        object_lock,
        s3,
        stepfunctions,
    )

    elbv2.install()
    elbv2_listeners.install()  # after elbv2: its ModifyListener validates default actions
    events.install()
    inbox.install()
    kms.install()
    lambdas.install()
    s3.install()
    object_lock.install()
    stepfunctions.install()
    faults.install()  # after the ELBv2 and Step Functions fidelity patches it wraps
    from . import throttle

    throttle.install()  # outside the faults: a throttled call reaches nothing
    from . import cloudtrail

    cloudtrail.install()  # last: it records only the calls the patched handlers answered
