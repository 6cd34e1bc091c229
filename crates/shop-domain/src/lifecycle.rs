//! An order's status and the moves between statuses: `created` → `paid` →
//! `shipped` → `delivered`, and `created` or `paid` → `cancelled`.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Recorded before its stock is reserved, and not yet an order: never shown,
    /// never listed. It becomes `created` once its stock is held, or is dropped
    /// (and any stock it held released) when it is abandoned.
    Pending,
    Created,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    /// A pending order given up (its function died, or it could not be
    /// stored): never shown, never finalized, and its id never used again.
    Abandoned,
}

/// The statuses a client may name (`?status=`, `PATCH /orders/{id}`).
pub const VISIBLE: [OrderStatus; 5] = [
    OrderStatus::Created,
    OrderStatus::Paid,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
    OrderStatus::Cancelled,
];

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Abandoned => "abandoned",
        }
    }

    /// A status a client may name; `pending` is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        VISIBLE
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = VISIBLE.iter().map(|s| s.as_str()).collect();
                format!("must be one of {}", names.join(", "))
            })
    }

    /// Whether the lifecycle allows a move from `self` to `to`.
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        use OrderStatus::{Cancelled, Created, Delivered, Paid, Shipped};
        matches!(
            (self, to),
            (Created, Paid) | (Paid, Shipped) | (Shipped, Delivered) | (Created | Paid, Cancelled)
        )
    }

    /// Whether an order in this status may still be cancelled, and so whether
    /// the stock it holds may still come back.
    pub fn is_cancellable(self) -> bool {
        self.can_move_to(OrderStatus::Cancelled)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of an order's `statusHistory`: the status it moved to, when, and
/// who moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: UserId,
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::{self, *};

    #[test]
    fn the_lifecycle_moves_forward_and_cancels_only_before_shipping() {
        let allowed = [
            (Created, Paid),
            (Paid, Shipped),
            (Shipped, Delivered),
            (Created, Cancelled),
            (Paid, Cancelled),
        ];
        let all = [
            Pending, Created, Paid, Shipped, Delivered, Cancelled, Abandoned,
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_move_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        assert!(Created.is_cancellable() && Paid.is_cancellable());
        assert!(!Shipped.is_cancellable() && !Cancelled.is_cancellable());
    }

    #[test]
    fn only_visible_statuses_parse() {
        assert_eq!(OrderStatus::parse("shipped"), Ok(Shipped));
        for bad in ["pending", "abandoned", "Shipped", "", "lost"] {
            assert_eq!(
                OrderStatus::parse(bad),
                Err("must be one of created, paid, shipped, delivered, cancelled".into()),
                "{bad}"
            );
        }
    }
}
