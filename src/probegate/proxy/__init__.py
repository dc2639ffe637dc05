"""The data path: listeners, client connections, exchanges, backend pools; read contracts.py first."""
