// NDJSON -> TabSeparated encoder (placeholder; filled in by the next commits).
