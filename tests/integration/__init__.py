"""The integration tier: the library, the CLI and the local AWS itself, against the embedded
local AWS (moto + the fidelity layer), a fresh one per test."""
