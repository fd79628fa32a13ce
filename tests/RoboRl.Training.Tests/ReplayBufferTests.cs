namespace RoboRl.Training.Tests;

public class ReplayBufferTests
{
    static void AddRow(ReplayBuffer buffer, float value, bool terminated = false)
    {
        Span<float> actor = stackalloc float[3], critic = stackalloc float[2], action = stackalloc float[1];
        actor.Fill(value); critic.Fill(value + 0.5f); action.Fill(-value);
        Span<float> nextActor = stackalloc float[3], nextCritic = stackalloc float[2];
        nextActor.Fill(value + 1); nextCritic.Fill(value + 1.5f);
        buffer.Add(actor, critic, action, reward: value * 10, nextActor, nextCritic, terminated ? 0 : 0.99f);
    }

    [Test]
    public void SamplesKeepEachTransitionTogether()
    {
        var buffer = new ReplayBuffer(100, actorSize: 3, criticSize: 2, actionSize: 1);
        for (int i = 0; i < 50; i++) AddRow(buffer, i, terminated: i % 2 == 0);
        const int b = 64;
        float[] obs = new float[b * 3], criticIn = new float[b * 3], critic = new float[b * 2], next = new float[b * 3], nextCritic = new float[b * 2],
            reward = new float[b], notTerminated = new float[b];
        buffer.SampleInto(new SeededRandom(1), b, obs, criticIn, critic, next, nextCritic, reward, notTerminated);
        for (int k = 0; k < b; k++)
        {
            float v = obs[k * 3];
            Assert.That(v, Is.InRange(0, 49));
            Assert.That(criticIn.AsSpan(k * 3, 3).ToArray(), Is.EqualTo(new[] { v + 0.5f, v + 0.5f, -v }), "critic input = [critic observation, action]");
            Assert.That(next[k * 3 + 2], Is.EqualTo(v + 1));
            Assert.That(nextCritic[k * 2], Is.EqualTo(v + 1.5f));
            Assert.That(reward[k], Is.EqualTo(v * 10));
            Assert.That(notTerminated[k], Is.EqualTo(v % 2 == 0 ? 0 : 0.99f), "bootstrap discount: 0 after termination");
        }
    }

    [Test]
    public void RingOverwritesTheOldestRows()
    {
        var buffer = new ReplayBuffer(4, 3, 2, 1);
        for (int i = 0; i < 6; i++) AddRow(buffer, i);
        Assert.That(buffer.Count, Is.EqualTo(4));
        Assert.That(buffer.Position, Is.EqualTo(2));
        Assert.That(buffer.Rewards, Is.EqualTo(new float[] { 40, 50, 20, 30 }));
    }

    [Test]
    public void AddAndSampleAllocateNothing()
    {
        var buffer = new ReplayBuffer(1000, 149, 32, 4);
        var random = new SeededRandom(3);
        const int b = 256;
        float[] obs = new float[b * 149], criticIn = new float[b * 36], critic = new float[b * 32], next = new float[b * 149], nextCritic = new float[b * 32],
            reward = new float[b], notTerminated = new float[b];
        float[] actor = new float[149], criticRow = new float[32], action = new float[4];
        void AddAndSample()
        {
            for (int i = 0; i < 100; i++)
            {
                buffer.Add(actor, criticRow, action, 1, actor, criticRow, 0.99f);
                buffer.SampleInto(random, b, obs, criticIn, critic, next, nextCritic, reward, notTerminated);
            }
        }
        AddAndSample(); AddAndSample(); // warm-up past tiered compilation's call-count threshold (30 calls)
        Assert.That(AllocationMeter.FewestBytes(AddAndSample), Is.Zero);
    }

    [Test]
    public void SaveAndLoadRoundTrip()
    {
        var buffer = new ReplayBuffer(8, 3, 2, 1);
        for (int i = 0; i < 5; i++) AddRow(buffer, i, terminated: i == 3);
        var stream = new MemoryStream();
        buffer.Save(new BinaryWriter(stream));
        stream.Position = 0;
        var copy = new ReplayBuffer(8, 3, 2, 1);
        copy.Load(new BinaryReader(stream), "memory");
        Assert.That(copy.Count, Is.EqualTo(5));
        Assert.That(copy.Position, Is.EqualTo(5));
        Assert.That(copy.NextActorObservations, Is.EqualTo(buffer.NextActorObservations));
        Assert.That(copy.Discounts, Is.EqualTo(buffer.Discounts));
        stream.Position = 0;
        var wrongShape = new ReplayBuffer(8, 4, 2, 1);
        Assert.Throws<InvalidDataException>(() => wrongShape.Load(new BinaryReader(stream), "memory"));
    }
}
