"""Thin resolvers: GraphQL arguments -> domain call -> domain objects the schema types present."""
