"""Worker processes: one supervisor (configuration, prober, store, admin API) and N processes
running the data path on the listening sockets it bound (`workers` in the configuration)."""
