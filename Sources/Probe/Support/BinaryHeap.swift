/// A binary heap of `Element`s ordered by `precedes`: `pop` returns an element that no other precedes
/// (a min-heap for `<`). Used by the tokenizers' merge loops, which push and pop candidate pairs.
struct BinaryHeap<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    /// An empty heap; `precedes(a, b)` is true when `a` must come out before `b`.
    init(reservingCapacity capacity: Int = 0, precedes: @escaping (Element, Element) -> Bool) {
        self.precedes = precedes
        items.reserveCapacity(capacity)
    }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ element: Element) {
        items.append(element)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !precedes(items[i], items[parent]) { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    /// Removes and returns the first element; the heap must not be empty.
    mutating func pop() -> Element {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && precedes(items[l], items[m]) { m = l }
                if r < items.count && precedes(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(m, i)
                i = m
            }
        }
        return top
    }
}
