"""Storage: the system of record, the paper catalog, and the operations on the data."""
