"""Integration tests: real sockets on 127.0.0.x, backends built to misbehave."""
