"""Pure decisions: no I/O, no clocks (time is passed in), so every rule is unit-testable."""
