/** The example APIs' data: orders per user, in memory. A new user starts with a welcome order. */
export interface Order {
  id: number;
  sub: string;
  item: string;
  placedAt: string;
}

export class Orders {
  readonly #bySub = new Map<string, Order[]>();
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

  all(): Order[] {
    return [...this.#bySub.values()].flat();
  }
}
