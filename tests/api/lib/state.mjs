// What one run of the story has learned so far, shared by the test files in order.
import { randomBytes } from 'node:crypto';

/** A suffix unique to this run, so the suite can run twice against one database. */
export const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

export const state = {
  /** name -> { id, username, email, password, token, claims } */
  users: {},
  /** name -> the product as created */
  products: {},
  /** name -> the order as created */
  orders: {},
  /** The category every product of this run's listing checks belongs to. */
  category: `cat-${RUN}`,
};

/** Fails clearly when a step needs something an earlier step did not produce. */
export function need(value, what) {
  if (!value) {
    throw new Error(`an earlier step of the story did not produce ${what}; see its failure above`);
  }
  return value;
}

/** A 24-hex ObjectId that is (almost certainly) nobody's. */
export function unknownId() {
  return `ffffffff${randomBytes(8).toString('hex')}`;
}
