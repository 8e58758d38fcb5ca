"""HTTP entry points, one module per area."""
