"""The unit tier: no AWS emulator. A package, so its modules never shadow the top-level
``conftest``, ``listeners`` or ``test_*`` modules of tests/ when the whole suite runs."""
