"""Decoding what AWS sends: S3 event notifications (and taking them off a shared queue) and
DynamoDB's wire format."""
