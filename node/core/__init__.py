"""node/core"""
