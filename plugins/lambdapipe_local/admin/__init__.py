"""What tests and chaos runs steer: fault rules, the errors they inject, call counts and the admin client."""
