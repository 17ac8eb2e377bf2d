"""The GraphQL schema: strawberry types, inputs, enums, Query/Mutation/Subscription and extensions."""
