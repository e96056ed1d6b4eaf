"""A toy pricing module: the code under test in the demo project."""

from demo_pricing.pricing import monthly_premium

__all__ = ["monthly_premium"]
