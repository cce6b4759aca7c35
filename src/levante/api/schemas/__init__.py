"""The bodies the HTTP API accepts and answers, one module per route module: Pydantic models
that read typed input and render what the services return. No rule of the business here."""
