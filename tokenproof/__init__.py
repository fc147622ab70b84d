"""tokenproof"""
