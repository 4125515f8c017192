//! Broker failures; all of them are worth retrying.

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("the broker is unreachable: {0}")]
    Unreachable(String),
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("no queue took the message (its queue is missing)")]
    Unroutable,
    #[error("timed out waiting for the broker")]
    Timeout,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl BrokerError {
    /// The same failure for another message it befell (every command of a bundle).
    pub fn again(&self) -> BrokerError {
        match self {
            BrokerError::Unreachable(reason) => BrokerError::Unreachable(reason.clone()),
            BrokerError::Amqp(err) => BrokerError::Amqp(err.clone()),
            BrokerError::Nacked => BrokerError::Nacked,
            BrokerError::Unroutable => BrokerError::Unroutable,
            BrokerError::Timeout => BrokerError::Timeout,
            BrokerError::Store(err) => BrokerError::Unreachable(err.to_string()),
        }
    }
}
