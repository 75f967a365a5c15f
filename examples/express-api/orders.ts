/** The example APIs' data: orders per user, in memory. A new user starts with a welcome order. */
export interface Order {
  id: number;
  sub: string;
  item: string;
  placedAt: string;
}

export class Orders {
  readonly #bySub = new Map<string, Order[]>();
  readonly #addresses = new Map<string, string>();
  #nextId = 1;

  #new(sub: string, item: string): Order {
    return { id: this.#nextId++, sub, item, placedAt: new Date().toISOString() };
  }

  of(sub: string): Order[] {
    let orders = this.#bySub.get(sub);
    if (!orders) this.#bySub.set(sub, (orders = [this.#new(sub, 'Welcome pack')]));
    return orders;
  }

  place(sub: string, item: string): Order {
    const order = this.#new(sub, item);
    this.of(sub).push(order);
    return order;
  }

  /** Where a user's orders go (empty until set). */
  addressOf(sub: string): string {
    return this.#addresses.get(sub) ?? '';
  }

  setAddress(sub: string, address: string): string {
    this.#addresses.set(sub, address);
    return address;
  }

  all(): Order[] {
    return [...this.#bySub.values()].flat();
  }
}
