"""Authentication: password hashing, JWT issue/verify, revocation, request and WebSocket authentication."""
