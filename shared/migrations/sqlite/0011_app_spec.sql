-- What an app's last deploy asked for, every field decided, so a redeploy that gives
-- only a new image keeps the environment, port and TLS it does not resend.
ALTER TABLE apps ADD COLUMN spec TEXT;
