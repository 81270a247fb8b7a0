-- Partners' subscriptions to publish notifications (issue 25), and each notification's outbox row and delivery
-- log. One owner module: runtime/partners/subscriptions.ts.
CREATE TABLE IF NOT EXISTS strata.subscriptions (
  id text PRIMARY KEY,
  partner text NOT NULL,
  url text NOT NULL,
  -- Standard Webhooks `whsec_<base64>`: shown once to the partner, kept to sign each notification.
  secret text NOT NULL,
  -- The API the partner subscribed through: the base of the changes links its notifications carry.
  api_base text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  consecutive_failures integer NOT NULL DEFAULT 0,
  disabled_at timestamptz,
  disabled_reason text,
  deleted_at timestamptz
);
CREATE INDEX IF NOT EXISTS subscriptions_partner ON strata.subscriptions (partner);

CREATE TABLE IF NOT EXISTS strata.subscription_products (
  subscription_id text NOT NULL REFERENCES strata.subscriptions (id),
  product text NOT NULL,
  PRIMARY KEY (subscription_id, product)
);
CREATE INDEX IF NOT EXISTS subscription_products_product ON strata.subscription_products (product);

-- One row per notification and subscription: pending ones are the local outbox `strata serve` delivers.
CREATE TABLE IF NOT EXISTS strata.notifications (
  id text PRIMARY KEY,
  subscription_id text NOT NULL REFERENCES strata.subscriptions (id),
  partner text NOT NULL,
  product text NOT NULL,
  version text NOT NULL,
  body text NOT NULL,
  -- pending (to deliver), delivered, failed (gave up), handed-off (EventBridge delivers it)
  status text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notifications_due ON strata.notifications (next_attempt_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS strata.delivery_attempts (
  notification_id text NOT NULL REFERENCES strata.notifications (id),
  attempt integer NOT NULL,
  subscription_id text NOT NULL,
  partner text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  status_code integer,
  error text,
  PRIMARY KEY (notification_id, attempt)
);
CREATE INDEX IF NOT EXISTS delivery_attempts_partner ON strata.delivery_attempts (partner, at DESC);
