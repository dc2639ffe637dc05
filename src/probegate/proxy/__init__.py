"""The data path: request routing (pure), and later the server, upstream pools and balancing."""
