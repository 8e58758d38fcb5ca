"""Demo data: `flask --app wsgi demo seed` (see `seed`)."""
