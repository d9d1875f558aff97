"""Computing: parameter declarations, the engine (seeding, batching, tasks), executors (local
processes, Dask), sweeps, results as plain data, and the one content-addressed cache."""
