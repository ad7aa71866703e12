"""The throwaway Django project the benchmark serves: both token stacks, one schema."""
