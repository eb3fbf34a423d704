"""Development tools that never ship in the Lambda package."""
