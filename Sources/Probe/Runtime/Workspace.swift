/// Scratch buffers of the forward pass, kept between calls so that decoding allocates nothing per token.
final class Workspace {
    private var buffers: [String: FloatBuffer] = [:]

    /// A buffer of at least `count` floats under `name`, reused when large enough. Contents are unspecified.
    func buffer(_ name: String, count: Int) -> UnsafeMutablePointer<Float> {
        if let b = buffers[name], b.count >= count { return b.pointer }
        let b = FloatBuffer(count: count)
        buffers[name] = b
        return b.pointer
    }
}
