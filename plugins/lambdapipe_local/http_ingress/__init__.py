"""HTTP into Lambda: API Gateway REST and HTTP APIs and function URLs, served by the local stack."""
