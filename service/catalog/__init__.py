"""The clinic and treatment catalogue: loading it and reading it."""
