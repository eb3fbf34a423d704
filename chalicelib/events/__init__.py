"""Events pushed to the client's systems: the outbox, destinations, signed delivery with retries."""
