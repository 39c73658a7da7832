"""node/components"""
