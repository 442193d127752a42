"""The interface language of each user: English or Simplified Chinese, chosen per user."""
