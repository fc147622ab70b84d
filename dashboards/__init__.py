"""tokenproof.dashboards: the Streamlit app (layout only; data comes from tokenproof.analytics).

Not built yet: cost attribution, alerts and recommendations pages arrive with the dashboard issue.
Nothing imports this package.
"""
