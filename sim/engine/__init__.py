"""Playing a scenario: its rules compiled to arrays, randomness, doctrines, the state of a batch
of worlds, the SimPy processes that advance it (the `Engine` of `stepping`), and the event log."""
