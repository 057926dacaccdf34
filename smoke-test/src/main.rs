fn main() {
    println!("smoke-test: not built yet");
}
