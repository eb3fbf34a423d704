"""Services: the use cases behind the routes, free of any web framework."""
