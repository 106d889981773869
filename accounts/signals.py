"""Signals other apps hook into instead of being called from accounts/."""

from django.dispatch import Signal

# Sent when an existing user's password was changed and saved (set_password() then save(),
# whichever view or command did it), not for Django's silent hash upgrades at sign-in.
# kwargs: user. Receivers end the user's sessions.
password_changed = Signal()

# Sent when a sign-in is refused because a failure counter reached its limit, once per lockout.
# kwargs: scope (the domain's schema, "public" for the staff admin), username, ip, reason.
signin_locked = Signal()
