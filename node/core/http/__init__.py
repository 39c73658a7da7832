"""node/core/http"""
