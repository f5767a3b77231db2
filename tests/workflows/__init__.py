"""The workflow tier: the SAM application deployed into the local AWS, its state machines and
functions run for real; one deployed stack per session (per xdist worker), reset between tests."""
